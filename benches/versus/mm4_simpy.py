"""M/M/4 at rho = 0.8 (lambda = 32/s, mean service 100 ms) in SimPy, the way its
documentation models a shop: a generator process per customer and a Resource of four
servers. Prints the customers served and the CPU seconds spent, for `cargo bench --bench
versus`, which compares them with Bottleneck and a bare event loop on the same model.

Usage: python3 mm4_simpy.py CUSTOMERS SEED
"""

import json
import random
import sys
import time

import simpy

RATE = 32.0
MEAN_SERVICE = 0.1
SERVERS = 4


def main():
    customers = int(sys.argv[1])
    rng = random.Random(int(sys.argv[2]))
    env = simpy.Environment()
    servers = simpy.Resource(env, capacity=SERVERS)
    served = [0]

    def customer():
        with servers.request() as req:
            yield req
            yield env.timeout(rng.expovariate(1.0 / MEAN_SERVICE))
        served[0] += 1

    def arrivals():
        for _ in range(customers):
            yield env.timeout(rng.expovariate(RATE))
            env.process(customer())

    env.process(arrivals())
    start = time.process_time()
    env.run()
    cpu = time.process_time() - start
    print(json.dumps({"customers": served[0], "cpu_secs": cpu}))


if __name__ == "__main__":
    main()
