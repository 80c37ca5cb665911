"""The first component: reads an input file and prepares it for inference.

`aisprint design` reads the decorators of `main`; at run time they report execution times
to the local agent. The script receives the input file and writes its result to the output
folder (OSCAR's INPUT_FILE_PATH and TMP_OUTPUT_DIR).
"""
import os
import sys

from aisprint.annotations import component_name, exec_time, expected_throughput


@component_name(name='preprocess')
@exec_time(local_time_thr=5)            # seconds this component may take
@expected_throughput(rate=1)            # requests per second the application receives
def main(input_path, output_dir):
    with open(input_path, 'rb') as f:
        data = f.read()
    out = os.path.join(output_dir, os.path.basename(input_path))
    with open(out, 'wb') as f:
        f.write(data.upper())


if __name__ == '__main__':
    main(os.environ.get('INPUT_FILE_PATH', sys.argv[1]), os.environ.get('TMP_OUTPUT_DIR', '.'))
