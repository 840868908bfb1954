"""The report's stylesheet and its few lines of JS, inlined into the page (no assets)."""

CSS = """
:root{--pass:#1a7f37;--pass-bg:#dafbe1;--fail:#cf222e;--fail-bg:#ffebe9;--inc:#9a6700;--inc-bg:#fff8c5;
--none:#6e7781;--none-bg:#eaeef2;--line:#d0d7de;--muted:#57606a;--code:#f6f8fa}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1f2328;margin:0;
background:#fff}
main{max-width:1320px;margin:0 auto;padding:16px 24px 48px}
h1{font-size:22px;margin:8px 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid var(--line);
padding-bottom:4px}h3{font-size:15px;margin:16px 0 6px}
a{color:#0969da;text-decoration:none}a:hover{text-decoration:underline}
code,pre,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono",monospace;font-size:12.5px}
pre{background:var(--code);border:1px solid var(--line);border-radius:4px;padding:6px 8px;margin:4px 0;
white-space:pre-wrap;word-break:break-all}
.muted{color:var(--muted)}
.badge{display:inline-block;min-width:96px;white-space:nowrap;text-align:center;padding:1px 8px;border-radius:10px;font-weight:600;
font-size:12px;text-transform:uppercase;letter-spacing:.03em;border:1px solid transparent}
.b-pass,.b-passed{color:var(--pass);background:var(--pass-bg);border-color:#aceebb}
.b-fail,.b-failed,.b-error{color:var(--fail);background:var(--fail-bg);border-color:#ffcecb}
.b-inconclusive,.b-skipped{color:var(--inc);background:var(--inc-bg);border-color:#f5e0a0}
.b-none,.b-not-run{color:var(--none);background:var(--none-bg)}
.meta{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:6px 24px;margin:10px 0}
.meta div{border-bottom:1px dotted var(--line);padding:2px 0}.meta b{display:inline-block;min-width:110px;
color:var(--muted);font-weight:500}
.totals{display:flex;flex-wrap:wrap;gap:10px;margin:12px 0}
.tot{border:1px solid var(--line);border-radius:6px;padding:6px 12px;min-width:150px}
.tot .n{font-size:20px;font-weight:700}.tot.fail{border-color:var(--fail);background:var(--fail-bg)}
.tot.pass{border-color:#aceebb;background:var(--pass-bg)}.tot.inc{border-color:#f5e0a0;background:var(--inc-bg)}
table{border-collapse:collapse;margin:6px 0}th,td{border:1px solid var(--line);padding:3px 8px;text-align:left;
vertical-align:top}th{background:var(--code);font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.section-head{background:var(--code);font-weight:600;padding:6px 10px;border:1px solid var(--line);
border-bottom:0;margin-top:10px}
details.crit{border:1px solid var(--line);border-top:0}
details.crit>summary,.crit-head{display:grid;grid-template-columns:16px 124px 112px 1fr 190px;gap:10px;
align-items:start;padding:5px 10px;cursor:pointer;list-style:none}
.crit-head{cursor:default;font-weight:600;color:var(--muted);border:1px solid var(--line);background:#fff;
font-size:12px}
details.crit>summary::-webkit-details-marker,details.test>summary::-webkit-details-marker{display:none}
.tw::before{content:"\\25B8";color:var(--muted)}details[open]>summary .tw::before{content:"\\25BE"}
details.crit.fail>summary{background:var(--fail-bg)}details.crit.inconclusive>summary{background:var(--inc-bg)}
details.crit.none>summary{color:var(--muted);cursor:default}details.crit.none .tw::before{content:""}
.b-none{font-size:11px}
.cid{font-family:ui-monospace,Menlo,Consolas,"DejaVu Sans Mono",monospace;font-weight:600}
.crit-body{padding:6px 12px 10px 44px;border-top:1px dashed var(--line)}
.verdict{border:1px solid var(--line);border-left:5px solid var(--none);border-radius:4px;padding:6px 10px;
margin:8px 0;background:#fff}
.verdict.pass{border-left-color:var(--pass)}.verdict.fail{border-left-color:var(--fail)}
.verdict.inconclusive{border-left-color:var(--inc)}
.vhead{display:flex;flex-wrap:wrap;gap:8px;align-items:baseline}.subject{color:var(--muted)}
.summary{margin:4px 0;font-weight:500}
.ok{color:var(--pass);font-weight:700}.bad{color:var(--fail);font-weight:700}
.ev{margin:6px 0 2px}.src{display:inline-block;font-size:11px;font-weight:700;text-transform:uppercase;
padding:0 6px;border-radius:3px;background:var(--none-bg);color:#24292f}
.loc{font-family:ui-monospace,Menlo,Consolas,"DejaVu Sans Mono",monospace;font-size:12.5px}
details.test{border:1px solid var(--line);border-radius:6px;margin:10px 0}
details.test>summary{display:grid;grid-template-columns:22px 100px 1fr 90px 260px;gap:10px;padding:8px 10px;
cursor:pointer;list-style:none;align-items:baseline}
details.test.failed>summary{background:var(--fail-bg)}
.test-body{padding:4px 14px 14px}
.links a,.meta a{margin-right:12px;white-space:nowrap}
.vt{width:100%}.vt td{font-size:13px}.vt td.mono{white-space:nowrap}.vt td:nth-child(3){width:24%}
.vt td:nth-child(5){width:30%;min-width:280px}
.plot{max-width:100%;height:auto;border:1px solid var(--line);background:#fff}
.plot .plot-bg{fill:#fff}.plot .grid{stroke:#eaeef2}.plot .tick{font:11px sans-serif;fill:#57606a}
.plot .axis{font:12px sans-serif;fill:#24292f}.plot .limit{stroke:var(--fail);stroke-width:2;stroke-dasharray:6 4}
.plot .over-label{font:11px sans-serif;fill:#82071e;font-weight:700}
.plot .pt{fill:#0969da;fill-opacity:.85}.plot .pt.over{fill:var(--fail);stroke:#82071e;stroke-width:1}
.plot .pt.retrans{fill:#fff;stroke:#0969da;stroke-width:1.5}.plot .pt.over.retrans{fill:#fff;stroke:var(--fail)}
.plot .series{stroke:#0969da;stroke-width:1.5}.plot .baseline{stroke:var(--pass)}
.plot .lifeline{stroke:#8c959f;stroke-width:2}.plot .msg{font:11.5px ui-monospace,Menlo,Consolas,monospace;fill:#24292f}
.plot .arrow line{stroke:#0969da;stroke-width:1.3}.plot .arrow path{fill:#0969da}
.plot .arrow.fin line,.plot .arrow.syn line{stroke:#57606a}.plot .arrow.fin path,.plot .arrow.syn path{fill:#57606a}
.plot .arrow.rst line,.plot .arrow.cited line{stroke:var(--fail);stroke-width:2}
.plot .arrow.rst path,.plot .arrow.cited path{fill:var(--fail)}.plot .arrow.cited .msg{fill:#82071e;font-weight:700}
.legend{display:flex;gap:18px;font-size:12.5px;margin:4px 0 10px;flex-wrap:wrap}
.sw{display:inline-block;width:10px;height:10px;border-radius:50%;margin-right:5px;vertical-align:-1px}
.tl{width:100%;table-layout:fixed;font-size:12.5px}
.tl td{border:0;border-bottom:1px solid #eef1f4;padding:1px 6px}
.tl td.ms{width:92px;text-align:right;font-variant-numeric:tabular-nums;color:var(--muted)}
.tl td.lab{width:132px;white-space:nowrap;font-weight:600}
.tl td.txt{font-family:ui-monospace,Menlo,Consolas,"DejaVu Sans Mono",monospace;white-space:pre-wrap;
word-break:break-all}
.tl tr.uart td.lab{color:#0550ae}.tl tr.uart{background:#f3f8ff}.tl tr.uart td:first-child{border-left:4px solid #0969da}
.tl tr.transcript td.lab{color:#8250df}.tl tr.transcript{background:#fbf7ff}
.tl tr.transcript td:first-child{border-left:4px solid #8250df}
.tl tr.packet td.lab{color:#57606a;font-weight:500}.tl tr.packet td.txt{color:#57606a}
.tl tr.packet td:first-child{border-left:4px solid #afb8c1}
.tl tr.failing{background:var(--fail-bg)!important}.tl tr.failing td{color:var(--fail)!important;font-weight:700}
.tl tr.failing td:first-child{border-left:4px solid var(--fail)}
.tl tr:target{outline:2px solid #0969da}
.tl-tools{margin:6px 0;font-size:12.5px}.tl-tools label{margin-right:14px}
.note{color:var(--inc);font-size:13px}
.jump{margin:6px 0}.jump a.badge{min-width:0;margin:0 4px 4px 0;text-transform:none}
.toolbar{float:right;font-size:12.5px}.toolbar button{margin-left:6px}
.alarm{background:var(--fail);color:#fff;padding:10px 14px;border-radius:6px;margin:10px 0;font-size:16px}
.alarm pre{background:#fff;color:var(--fail);margin:6px 0 0}
.first{border:2px solid var(--fail);background:var(--fail-bg);border-radius:6px;padding:8px 14px;margin:10px 0}
.first li.consequence{opacity:.8;margin-left:14px}
.first ol{margin:4px 0;padding-left:22px}.first ul{margin:2px 0;padding-left:16px;list-style:none}
.meta.judged .mono{word-break:break-all}
"""

JS = """
function setAll(sel,open){document.querySelectorAll(sel).forEach(function(d){d.open=open;});}
function openTarget(){var h=decodeURIComponent(location.hash.slice(1));var t=h&&document.getElementById(h);
if(!t)return;for(var e=t;e;e=e.parentElement){if(e.tagName==='DETAILS')e.open=true;}t.scrollIntoView();}
window.addEventListener('hashchange',openTarget);openTarget();
function tlFilter(box){var t=document.getElementById(box.dataset.table);
t.querySelectorAll('tr.'+box.value).forEach(function(r){r.style.display=box.checked?'':'none';});}
"""
