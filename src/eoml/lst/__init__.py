"""LST study: MODIS land-surface-temperature super-resolution (MRUNet vs classical sharpeners)."""
