"""classify: a stand-in for a DNN inference, 0.4 s per frame (a sleep: the time of a model
on a slow device), one frame at a time per instance. On the edge server (one instance) it
keeps up with about 2 frames per second; beyond that its queue grows and so does its
response time, which must stay under 2 s."""
import argparse
import os
import time

from aisprint.annotations import component_name, exec_time

SECONDS = 0.4


@component_name(name='classify')
@exec_time(local_time_thr=2)
def main(args):
    with open(args.input, 'rb') as f:
        data = f.read()
    time.sleep(SECONDS)
    os.makedirs(args.output, exist_ok=True)
    with open(os.path.join(args.output, os.path.basename(args.input)), 'wb') as f:
        f.write(data + b'classified\n')


if __name__ == '__main__':
    parser = argparse.ArgumentParser()
    parser.add_argument('--input', default=os.environ.get('INPUT_FILE_PATH'))
    parser.add_argument('--output', default=os.environ.get('TMP_OUTPUT_DIR', '.'))
    main(parser.parse_args())
