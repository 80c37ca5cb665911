"""blurry-faces-onnx: anonymises a video frame by blurring the faces in it.

A stand-in for the user guide's ONNX face blurrer that needs only the Python standard
library: frames are small PGM images and "faces" are the bright regions (grey level of at
least FACE_LEVEL), which are box-blurred. The annotations are the ones of the guide.
"""
import argparse
import os

from aisprint.annotations import component_name, exec_time, partitionable_model

FACE_LEVEL = 200


def read_pgm(path):
    with open(path) as f:
        tokens = [t for line in f for t in line.split('#')[0].split()]
    assert tokens[0] == 'P2', 'expected an ASCII PGM (P2) image'
    w, h, maxval = int(tokens[1]), int(tokens[2]), int(tokens[3])
    px = [int(t) for t in tokens[4:4 + w * h]]
    return w, h, maxval, [px[r * w:(r + 1) * w] for r in range(h)]


def write_pgm(path, w, h, maxval, rows):
    with open(path, 'w') as f:
        f.write(f'P2\n{w} {h}\n{maxval}\n')
        for row in rows:
            f.write(' '.join(str(v) for v in row) + '\n')


def blur_faces(w, h, rows):
    out = [row[:] for row in rows]
    for y in range(h):
        for x in range(w):
            if rows[y][x] >= FACE_LEVEL:
                around = [rows[j][i] for j in range(max(0, y - 1), min(h, y + 2))
                          for i in range(max(0, x - 1), min(w, x + 2))]
                out[y][x] = sum(around) // len(around)
    return out


@component_name(name='blurry-faces-onnx')
@exec_time(local_time_thr=20)
@partitionable_model(onnx_file='version-RFB-640.onnx')
def main(args):
    w, h, maxval, rows = read_pgm(args.input)
    os.makedirs(args.output, exist_ok=True)
    write_pgm(os.path.join(args.output, os.path.basename(args.input)), w, h, maxval, blur_faces(w, h, rows))


if __name__ == '__main__':
    parser = argparse.ArgumentParser()
    parser.add_argument('--input', default=os.environ.get('INPUT_FILE_PATH'))
    parser.add_argument('--output', default=os.environ.get('TMP_OUTPUT_DIR', '.'))
    parser.add_argument('--onnx_file', default='onnx/version-RFB-640.onnx')
    main(parser.parse_args())
