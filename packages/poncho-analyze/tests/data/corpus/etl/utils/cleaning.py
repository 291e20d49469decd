def normalize_columns(frame):
    frame.columns = [c.strip().lower().replace(" ", "_") for c in frame.columns]
    return frame
