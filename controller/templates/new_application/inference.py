"""The second component: runs the model on what `preprocess` produced."""
import os
import sys

from aisprint.annotations import component_name, exec_time


@component_name(name='inference')
@exec_time(local_time_thr=10,
           global_time_thr=15,               # preprocess + inference together
           prev_components=['preprocess'])
def main(input_path, output_dir):
    with open(input_path, 'rb') as f:
        words = f.read().split()
    out = os.path.join(output_dir, os.path.basename(input_path) + '.txt')
    with open(out, 'w') as f:
        f.write(f'{len(words)} words\n')


if __name__ == '__main__':
    main(os.environ.get('INPUT_FILE_PATH', sys.argv[1]), os.environ.get('TMP_OUTPUT_DIR', '.'))
