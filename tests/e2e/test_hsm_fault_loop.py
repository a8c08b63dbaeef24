"""scripts/hsm-faults.sh in small: every fault of the matrix, HSM_FAULT_CYCLES
times (3 by default), against one real daemon, with the loop's checks (no
crash, 503 during the outage, ready again after it, no PIN retry)."""
import os
import unittest

from faults import MODULE
from hsm_fault_loop import FaultLoop, failed, summary

CYCLES = int(os.environ.get("HSM_FAULT_CYCLES", "3"))


@unittest.skipUnless(os.path.exists(MODULE), "fault module not built")
class HsmFaultLoopTest(unittest.TestCase):
    def test_every_fault_recovers(self):
        loop = FaultLoop()
        try:
            results = loop.run(CYCLES)
        finally:
            loop.close()
        text = summary(results, CYCLES, 0)
        self.assertEqual(len(results), len(loop.faults))
        self.assertTrue(all(len(runs) == CYCLES for _, runs in results))
        self.assertFalse(failed(results), text)


if __name__ == "__main__":
    unittest.main()
