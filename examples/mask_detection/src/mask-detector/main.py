"""mask-detector: counts the people with and without a mask in an anonymised frame.

A stand-in for the user guide's YOLOv3 detector that needs only the Python standard
library: in the blurred PGM frames a person is a connected region brighter than PERSON_LEVEL,
and wears a mask when the region's lower half is darker than its upper half.
"""
import argparse
import json
import os

from aisprint.annotations import component_name, exec_time

PERSON_LEVEL = 120


def read_pgm(path):
    with open(path) as f:
        tokens = [t for line in f for t in line.split('#')[0].split()]
    w, h = int(tokens[1]), int(tokens[2])
    px = [int(t) for t in tokens[4:4 + w * h]]
    return w, h, [px[r * w:(r + 1) * w] for r in range(h)]


def regions(w, h, rows):
    seen = set()
    for y in range(h):
        for x in range(w):
            if rows[y][x] >= PERSON_LEVEL and (x, y) not in seen:
                stack, cells = [(x, y)], []
                seen.add((x, y))
                while stack:
                    cx, cy = stack.pop()
                    cells.append((cx, cy))
                    for nx, ny in ((cx + 1, cy), (cx - 1, cy), (cx, cy + 1), (cx, cy - 1)):
                        if 0 <= nx < w and 0 <= ny < h and (nx, ny) not in seen and rows[ny][nx] >= PERSON_LEVEL:
                            seen.add((nx, ny))
                            stack.append((nx, ny))
                yield cells


@component_name(name='mask-detector')
@exec_time(local_time_thr=10)
def main(args):
    w, h, rows = read_pgm(args.input)
    masks = no_masks = 0
    for cells in regions(w, h, rows):
        top = min(y for _, y in cells)
        bottom = max(y for _, y in cells)
        mid = (top + bottom) / 2
        upper = [rows[y][x] for x, y in cells if y <= mid]
        lower = [rows[y][x] for x, y in cells if y > mid] or upper
        if sum(lower) / len(lower) < sum(upper) / len(upper):
            masks += 1
        else:
            no_masks += 1
    os.makedirs(args.output, exist_ok=True)
    name = os.path.splitext(os.path.basename(args.input))[0] + '.json'
    with open(os.path.join(args.output, name), 'w') as f:
        json.dump({'masks_count': masks, 'no_masks_count': no_masks}, f)


if __name__ == '__main__':
    parser = argparse.ArgumentParser()
    parser.add_argument('--input', default=os.environ.get('INPUT_FILE_PATH'))
    parser.add_argument('--output', default=os.environ.get('TMP_OUTPUT_DIR', '.'))
    main(parser.parse_args())
