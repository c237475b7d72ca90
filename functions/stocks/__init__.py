"""The stocks domain: B3 COTAHIST quotes, the IBOV portfolio, BCB SGS series and optional FRED/Alpha Vantage."""
