import sys

from services.predictor.server import run

if __name__ == "__main__":
    sys.exit(run())
