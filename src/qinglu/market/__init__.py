"""The market: listings (挂牌), orders, negotiated transfers (协议转让), escrow, settlement,
trade vouchers and market data."""
