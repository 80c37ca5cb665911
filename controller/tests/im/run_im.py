"""Starts a real Infrastructure Manager (PyPI package `IM`) for the tests.

IM reads its settings from im.cfg files beside its package or in /etc/im; the tests must not
touch either, so this launcher sets the same settings on IM's Config class before IM's modules
that read them are imported. Everything comes from the environment:

  IM_PORT      REST port on 127.0.0.1
  IM_DIR       folder for the SQLite data file, the log and the contextualisation files

The SSH, public-IP and state-check waits and the retries are lowered so that, in a network namespace with only
a loopback interface, IM gives up on the (unreachable) VMs in seconds.
"""

import os
import sys

from IM.config import Config

work = os.environ["IM_DIR"]
Config.REST_ADDRESS = "127.0.0.1"
Config.REST_PORT = int(os.environ["IM_PORT"])
Config.DATA_DB = "sqlite://" + os.path.join(work, "inf.dat")
Config.LOG_FILE = os.path.join(work, "im.log")
Config.LOG_LEVEL = "INFO"
Config.WAIT_SSH_ACCCESS_TIMEOUT = 3
Config.MAX_SSH_ERRORS = 1
Config.WAIT_PUBLIC_IP_TIMEOUT = 2
Config.WAIT_RUNNING_VM_TIMEOUT = 10
Config.CONFMAMAGER_CHECK_STATE_INTERVAL = 1
Config.CHECK_CTXT_PROCESS_INTERVAL = 1
Config.VM_INFO_UPDATE_FREQUENCY = 1
Config.MAX_CONTEXTUALIZATION_TIME = 60
Config.REMOTE_CONF_DIR = os.path.join(work, "remote")
Config.MAX_VM_FAILS = 1
Config.DELAY_BETWEEN_VM_RETRIES = 0

# IM retries each SSH operation 5 times over 45 s; here every attempt fails at once (no route),
# so one attempt is enough. The retry decorator's arguments are bound when IM.SSHRetry is
# imported, hence the replacement before that import.
import IM.retry  # noqa: E402

_retry = IM.retry.retry


def _one_try(check, avoid, tries=4, delay=3, backoff=2, logger=None, quiet=True):
    return _retry(check, avoid, tries=1, delay=0, backoff=1, logger=logger, quiet=quiet)


IM.retry.retry = _one_try

from IM.im_service import main  # noqa: E402  (after the settings above)

sys.argv = ["im_service"]
main()
