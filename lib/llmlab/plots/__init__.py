"""The course's figures, one module per concept (every lesson draws with them).

Interactive figures are plotly figures whose sliders and menus live inside the
figure, so they work in a saved notebook with no kernel; each also has a
matplotlib version where a static picture is wanted.
"""
