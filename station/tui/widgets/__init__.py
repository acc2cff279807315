"""Widgets shared by several screens, each with its own ``DEFAULT_CSS`` so its looks travel
with its code: a labelled form field with its inline error, the matter picker, the materials
checklist, a question modal, and the form machinery (inline errors, draft autosave)."""
