"""Files a person uploads in the browser tests: a small good eval set and broken ones."""

from __future__ import annotations

import csv
import random
from pathlib import Path

POSITIVE = [
    "Great battery life and a bright screen",
    "Arrived early and works perfectly",
    "The best headphones I have owned",
    "Comfortable, light and well made",
    "Setup took two minutes, love it",
    "Sound quality is superb for the price",
    "My kids use it every day, very happy",
    "Sturdy build and a generous warranty",
    "Fast, quiet and easy to clean",
    "Exceeded my expectations in every way",
    "The support team solved my issue quickly",
    "Beautiful design, feels premium",
    "Charges fast and lasts all week",
    "Would happily buy this again",
    "Crisp picture and simple menus",
    "Fits perfectly and looks great",
    "Reliable after a year of heavy use",
    "A delight to cook with",
    "Clear instructions and solid parts",
    "Worth every penny",
]
NEGATIVE = [
    "Stopped working after two days",
    "The battery drains in an hour",
    "Cheap plastic that cracked at once",
    "Customer service never replied",
    "Much smaller than the photos suggest",
    "Loud, slow and hard to clean",
    "The screen flickers constantly",
    "Arrived broken and the return was a hassle",
    "Uncomfortable after ten minutes",
    "The app crashes every time I open it",
    "Overpriced for what you get",
    "The strap snapped in the first week",
    "Instructions are useless and parts were missing",
    "It overheats and smells of burning",
    "Sound is tinny and distorted",
    "Paint peeled off within a month",
    "Would not recommend to anyone",
    "Leaks water all over the counter",
    "Keeps disconnecting from my phone",
    "A complete waste of money",
]


def write_sentiment_csv(path: Path, *, seed: int = 0) -> Path:
    """40 labelled reviews (``text,label``: positive/negative), shuffled with ``seed``."""
    rows = [(t, "positive") for t in POSITIVE] + [(t, "negative") for t in NEGATIVE]
    random.Random(seed).shuffle(rows)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    return path


def write_binary_junk(path: Path) -> Path:
    """Bytes that are no text at all, under a name that promises a CSV."""
    path.write_bytes(bytes(random.Random(1).randrange(256) for _ in range(2048)) + b"\x00" * 64)
    return path


def write_csv_without_target(path: Path) -> Path:
    """A CSV with an input column and nothing that could be the target."""
    path.write_text("text\nGreat battery life\nStopped working after two days\n", encoding="utf-8")
    return path


def write_marked_sentiment_csv(path: Path, marker: str, *, seed: int = 0, rows: int = 20) -> Path:
    """``rows`` labelled reviews, each ending in ``marker``: text no other upload contains."""
    pairs = [(t, "positive") for t in POSITIVE] + [(t, "negative") for t in NEGATIVE]
    chosen = random.Random(seed).sample(pairs, rows)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows((f"{text} ({marker})", label) for text, label in chosen)
    return path
