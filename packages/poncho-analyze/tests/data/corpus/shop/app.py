"""A small Flask shop (run with ``flask --app shop.app run``)."""
from flask import Flask, jsonify, render_template_string
from jinja2 import Environment

from .models import catalog
from shop.models.pricing import with_tax

app = Flask(__name__)
templates = Environment(autoescape=True)


@app.route("/")
def index():
    return render_template_string("<h1>{{ n }} products</h1>", n=len(catalog()))


@app.route("/api/products")
def products():
    return jsonify([{"name": p.name, "price": with_tax(p.price)} for p in catalog()])
