"""ingest: takes a frame from the camera's bucket and passes it on (a few milliseconds of
work), at the rate frames arrive: 1 per second as designed."""
import argparse
import os
import shutil

from aisprint.annotations import component_name, expected_throughput


@component_name(name='ingest')
@expected_throughput(rate=1)
def main(args):
    os.makedirs(args.output, exist_ok=True)
    shutil.copyfile(args.input, os.path.join(args.output, os.path.basename(args.input)))


if __name__ == '__main__':
    parser = argparse.ArgumentParser()
    parser.add_argument('--input', default=os.environ.get('INPUT_FILE_PATH'))
    parser.add_argument('--output', default=os.environ.get('TMP_OUTPUT_DIR', '.'))
    main(parser.parse_args())
