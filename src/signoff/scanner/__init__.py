"""Static artifact scanner: finds code hidden in model files without loading them."""
