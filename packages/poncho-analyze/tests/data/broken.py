import fine

def broken(:
    pass
