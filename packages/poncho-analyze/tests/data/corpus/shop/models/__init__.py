from dataclasses import dataclass


@dataclass
class Product:
    name: str
    price: float


def catalog():
    return [Product("hat", 12.0), Product("scarf", 20.0)]
