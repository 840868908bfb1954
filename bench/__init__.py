"""Hardware-in-the-loop acceptance bench for POP3/SMTP client firmware."""
__version__ = "0.1.0"
