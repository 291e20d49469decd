DEFAULT_URL = "sqlite:///sales.db"
