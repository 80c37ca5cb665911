"""report: a stand-in component with a controlled cost per file: a 0.15 s sleep (waiting on
I/O or a remote model) and a fixed amount of CPU work (2000 rounds of hashing), so that its
response time depends on how many jobs wait for a free slot (the parallelism) and, a
little, on how many run at once on the same cores."""
import argparse
import hashlib
import os
import time

from aisprint.annotations import component_name, exec_time

SLEEP = 0.15
ROUNDS = 2000


@component_name(name='report')
@exec_time(local_time_thr=3)
def main(args):
    with open(args.input, 'rb') as f:
        data = f.read()
    time.sleep(SLEEP)
    digest = data
    for _ in range(ROUNDS):
        digest = hashlib.sha256(digest).digest()
    os.makedirs(args.output, exist_ok=True)
    with open(os.path.join(args.output, os.path.basename(args.input)), 'wb') as f:
        f.write(data + b'\nreport ' + digest.hex().encode() + b'\n')


if __name__ == '__main__':
    parser = argparse.ArgumentParser()
    parser.add_argument('--input', default=os.environ.get('INPUT_FILE_PATH'))
    parser.add_argument('--output', default=os.environ.get('TMP_OUTPUT_DIR', '.'))
    main(parser.parse_args())
