"""The end-to-end demo behind ``make demo``, on a throw-away local stack.

It shows, in order: the local real stack starting; real risk workers (``riskseal risk
worker`` subprocesses) joining and sharing the partitions; an application asking them for
decisions through the producer SDK (allow, step-up, deny, each with its reasons and policy
ids) and bad input refused or dead-lettered; generated office traffic with injected attacks,
with the decisions and SOC alerts shown live as they arrive and the alerts compared with
the ground truth; the sealer turning every record (requests, actions, decisions, dead
letters) into signed, hash-linked blocks in S3; the bucket verified; a tampered copy caught;
and Object Lock refusing every attempt to remove or shorten a sealed object. Everything it
started is stopped at the end, also on failure or Ctrl-C.
"""

from riskseal.demo.report import DemoFailed, DemoReport
from riskseal.demo.tour import DemoOptions, run_demo
from riskseal.demo.traffic import TrafficPlan

__all__ = ["DemoFailed", "DemoOptions", "DemoReport", "TrafficPlan", "run_demo"]
