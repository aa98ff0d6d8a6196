"""Tools for developers, run from a checkout and never shipped (the wheel and the image leave this package out).

gallery.py draws every kiosk screen in every language and panel size, with reports of text that spills and
touch targets that are too small (tests/ui); gallery_scenes.py is the flow state each screen is drawn from.
"""
