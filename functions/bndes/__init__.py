"""The BNDES domain: the bank's balance sheets, CSV resources of its CKAN open-data portal."""
