# /// script
# requires-python = ">=3.10"
# dependencies = [
#   "demo-pep723-dep>=1.0",
#   "not-installed-dep==2.0",
#   "windows-only-dep; sys_platform == 'win32'",
# ]
# ///
import yaml
