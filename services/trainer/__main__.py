import asyncio

from services.trainer.server import main

if __name__ == "__main__":
    asyncio.run(main())
