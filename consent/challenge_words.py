"""The fixed word list of one-time challenge phrases (framework-free: the word check's benchmark
reads it without Django)."""

#: Words chosen to be common, two or three syllables and unlike one another when spoken, so that a
#: reader does not stumble and the word check can tell them apart. 128 words: four of them are 28
#: bits, far more than anyone can pre-record in the few minutes a challenge lives.
CHALLENGE_WORDS: tuple[str, ...] = (
    "anchor", "apple", "armchair", "avocado", "bakery", "balloon", "banana", "basket",
    "blanket", "bonfire", "bottle", "bucket", "butter", "cabbage", "camera", "candle",
    "canvas", "carpet", "castle", "cellar", "cherry", "chimney", "cinnamon", "coconut",
    "cookie", "copper", "cotton", "cowboy", "crocodile", "cucumber", "dentist", "diamond",
    "dinosaur", "dolphin", "donkey", "dragon", "elephant", "engine", "falcon", "feather",
    "festival", "fireplace", "football", "forest", "fountain", "galaxy", "garden", "giraffe",
    "ginger", "glacier", "gorilla", "guitar", "hammer", "harbor", "helmet", "honey",
    "iceberg", "island", "jacket", "jasmine", "jelly", "jungle", "kangaroo", "kettle",
    "kitchen", "ladder", "lantern", "lemon", "lettuce", "library", "lighthouse", "lobster",
    "magnet", "mango", "marble", "meadow", "melon", "mirror", "monkey", "motorbike",
    "mountain", "napkin", "needle", "noodle", "octopus", "orange", "orchestra", "oyster",
    "paddle", "pancake", "panther", "parrot", "peanut", "pebble", "pencil", "penguin",
    "pepper", "piano", "pillow", "pirate", "pocket", "potato", "pumpkin", "puzzle",
    "rabbit", "raincoat", "rocket", "saddle", "salmon", "sandwich", "scooter", "shadow",
    "sugar", "sunflower", "teapot", "tiger", "tomato", "tractor", "trumpet", "tunnel",
    "umbrella", "valley", "velvet", "violin", "volcano", "walnut", "window", "zebra",
)  # fmt: skip
