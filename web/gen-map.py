#!/usr/bin/env python3
"""Writes web/countries.json, the status page's world map, from Natural
Earth's 1:110m country shapes (public domain) as packaged by the npm package
world-atlas (countries-110m.json, TopoJSON). Run once by a maintainer (it
needs the network: `npm pack`); the build uses the committed output only.

    web/gen-map.py [world-atlas-2.x.y.tgz] > web/countries.json

Numeric ISO 3166-1 codes become alpha-2 with the iso-codes package
(/usr/share/iso-codes/json/iso_3166-1.json). The projection is
equirectangular, 0.1 degree per unit (x 0..3600, y 0..1700, north up,
latitudes from 85 N to 85 S), rounded to whole units: about 60 kB.
Countries too small for 1:110m get a small square at their centroid (the
table gslbd uses, gslb/geo_centroids.c)."""
import json
import re
import os
import subprocess
import sys
import tarfile
import tempfile

ISO = "/usr/share/iso-codes/json/iso_3166-1.json"
HERE = os.path.dirname(os.path.abspath(__file__))
CENTROIDS = os.path.join(HERE, "..", "gslb", "geo_centroids.c")
DOT = 12  # half the side of the square drawn for a country too small for 1:110m


def centroids():
    """cc -> (lat, lon) from gslbd's own table (gslb/geo_centroids.c)."""
    out = {}
    with open(CENTROIDS) as f:
        for m in re.finditer(r'\{ "([A-Z]{2})", (-?[0-9.]+), (-?[0-9.]+) \}', f.read()):
            out[m.group(1)] = (float(m.group(2)), float(m.group(3)))
    return out


def load_topo(tgz):
    with tarfile.open(tgz) as t:
        return json.load(t.extractfile("package/countries-110m.json"))


def decode_arcs(topo):
    sx, sy = topo["transform"]["scale"]
    tx, ty = topo["transform"]["translate"]
    arcs = []
    for arc in topo["arcs"]:
        x = y = 0
        pts = []
        for dx, dy in arc:
            x += dx
            y += dy
            pts.append((x * sx + tx, y * sy + ty))
        arcs.append(pts)
    return arcs


def ring(arcs, idx):
    pts = []
    for i in idx:
        a = arcs[i] if i >= 0 else list(reversed(arcs[~i]))
        pts.extend(a if not pts else a[1:])
    return pts


def project(lon, lat):
    lat = max(-85.0, min(85.0, lat))
    return round((lon + 180.0) * 10), round((85.0 - lat) * 10)


def unwrap(pts):
    """A ring that crosses the antimeridian (Russia, Fiji) continued past
    180 degrees instead of jumping back across the map."""
    out, shift, last = [], 0.0, None
    for lon, lat in pts:
        if last is not None and abs(lon + shift - last) > 180:
            shift += 360 if lon + shift < last else -360
        out.append((lon + shift, lat))
        last = lon + shift
    return out


def rings(pts):
    """The ring, and its copy a world away when it reaches past 180."""
    pts = unwrap(pts)
    out = [pts]
    if max(lon for lon, _ in pts) > 180:
        out.append([(lon - 360, lat) for lon, lat in pts])
    if min(lon for lon, _ in pts) < -180:
        out.append([(lon + 360, lat) for lon, lat in pts])
    return out


def path(arcs, polygons):
    out = []
    for poly in polygons:
        for r in (q for r in poly for q in rings(ring(arcs, r))):
            prev = None
            cmd = []
            for lon, lat in r:
                p = project(lon, lat)
                if p == prev:
                    continue
                if prev is None:
                    cmd.append("M%d %d" % p)
                else:
                    cmd.append("l%d %d" % (p[0] - prev[0], p[1] - prev[1]))
                prev = p
            if len(cmd) > 2:
                out.append("".join(cmd) + "z")
    return "".join(out)


def main():
    if len(sys.argv) > 1:
        tgz = sys.argv[1]
    else:
        tmp = tempfile.mkdtemp()
        subprocess.run(["npm", "pack", "--silent", "world-atlas@2"], cwd=tmp, check=True,
                       stdout=subprocess.DEVNULL)
        tgz = os.path.join(tmp, [f for f in os.listdir(tmp) if f.endswith(".tgz")][0])
    topo = load_topo(tgz)
    arcs = decode_arcs(topo)
    with open(ISO) as f:
        num2 = {c["numeric"]: c["alpha_2"] for c in json.load(f)["3166-1"]}
    # Natural Earth 110m has no numeric code for Kosovo and Northern Cyprus.
    names = {"Kosovo": "XK"}
    shapes = {}
    for g in topo["objects"]["countries"]["geometries"]:
        cc = num2.get(g.get("id")) or names.get(g["properties"]["name"])
        if not cc or g["type"] not in ("Polygon", "MultiPolygon"):
            continue
        polys = [g["arcs"]] if g["type"] == "Polygon" else g["arcs"]
        d = path(arcs, polys)
        shapes[cc] = shapes.get(cc, "") + d
    # Countries the 1:110m shapes leave out (Singapore, Malta, Bahrain...):
    # a small square at gslbd's centroid, so that every country a database
    # can name has something to colour.
    for cc, (lat, lon) in centroids().items():
        if cc not in shapes:
            x, y = project(lon, lat)
            shapes[cc] = "M%d %dh%dv%dh%dz" % (x - DOT, y - DOT, 2 * DOT, 2 * DOT, -2 * DOT)
    json.dump({
        "source": "Natural Earth 1:110m admin 0 countries (public domain), "
                  "via the npm package world-atlas " + os.path.basename(tgz),
        "generator": "web/gen-map.py",
        "projection": "equirectangular, x=(lon+180)*10, y=(85-lat)*10",
        "width": 3600,
        "height": 1700,
        "countries": dict(sorted(shapes.items())),
    }, sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
