"""The evalkit dashboard (Streamlit): layout only; every figure comes from an evalkit function.

Run it with ``evalkit dashboard`` (or ``streamlit run dashboards/app.py``).
``app.py`` is the router; ``views/`` holds one small file per page; ``data.py``
is the one place data are loaded (scoped by the user's role) and library
functions are called; ``state.py`` names every session-state key;
``glossary.py`` holds every plain-English explanation.
"""
