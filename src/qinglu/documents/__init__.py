"""Documents: PDF reports, certificates and vouchers; signatures; QR codes; verification."""
