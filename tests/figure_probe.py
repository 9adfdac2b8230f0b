"""Record what a figure script draws, for tests to check the numbers behind a picture.

Inside `probing(RECORD.json)`, RECORD.json gets one entry per picture saved: its suptitle, each
2D plot's title and curves (label, y values), and each 3D surface's title and grid values (y,
yhat, f)."""
import json
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from symloss.render import plots


@contextmanager
def probing(out: Path) -> Iterator[None]:
    record: list[dict] = []
    surfaces: list[dict] = []
    draw_surface, save = plots._surface_axes, plots.save

    def recording_surface(figure, y, yhat, values, title, label):
        surfaces.append({"title": title, "y": y.tolist(), "yhat": yhat.tolist(), "values": values.tolist()})
        return draw_surface(figure, y, yhat, values, title, label)

    def recording_save(figure, path):
        suptitle = figure._suptitle.get_text() if figure._suptitle else None
        curves = [{"title": axes.get_title(), "lines": [{"label": line.get_label(), "y": line.get_ydata().tolist()}
                                                        for line in axes.get_lines()]}
                  for axes in figure.axes if axes.name != "3d"]
        record.append({"path": str(path), "suptitle": suptitle, "plots": curves, "surfaces": surfaces[:]})
        surfaces.clear()
        return save(figure, path)

    plots._surface_axes, plots.save = recording_surface, recording_save
    try:
        yield
    finally:
        plots._surface_axes, plots.save = draw_surface, save
        out.write_text(json.dumps(record))
