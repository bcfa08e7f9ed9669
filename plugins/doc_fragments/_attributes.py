# Copyright (c) spitikos.homelab contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# Private to the collection: may change at any time. Do not use it from other collections.

from __future__ import annotations


class ModuleDocFragment:
    # The attribute descriptions; each module states its own support level.
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check mode and return the predicted result without changing anything.
  diff_mode:
    description: Returns details on what has changed (or would change in check mode) in diff mode.
  idempotent:
    description:
      - When run twice in a row with the same arguments, the second run reports no change
        (apart from documented exceptions).
"""

    # For modules that only read.
    INFO_MODULE = r"""
options: {}
attributes:
  check_mode:
    support: full
    details:
      - This action does not modify state.
  diff_mode:
    support: N/A
    details:
      - This action does not modify state.
  idempotent:
    support: full
"""
