-- fleet history schema, version 1. Add-only: never edit once released; add v0002_… instead.
PRAGMA foreign_keys = ON;
