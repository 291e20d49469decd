x = """never closed
import fake
