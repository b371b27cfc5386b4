# PlantKeeper lamp node (ESP32, MicroPython). See docs/nodes.md.
#
# Grow lamp relay IN -> GPIO26 (10k pull-down). Many 4-channel boards are active-low:
# set "active_low": true for them.
#
# Copy to the board with plantkeeper.py, pk_*.py and this folder's config.json:
#   mpremote cp ../../plantkeeper.py ../../pk_config.py ../../pk_lease.py ../../pk_sensors.py :
#   mpremote cp main.py config.json :
import pk_config

# First thing, before Wi-Fi and before the bigger modules load: every relay OFF.
pk_config.drive_relays_off("config.json")

import plantkeeper

plantkeeper.run("config.json")
