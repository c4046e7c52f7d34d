"""What comes after training: the palette map (palette.py), the colour guard switch
(colour_guard.py), weight averaging (average.py), export into the style library (export.py)
and the run state export and evaluation read (run_state.py).
"""
