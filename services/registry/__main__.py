import asyncio

from services.registry.server import main

if __name__ == "__main__":
    asyncio.run(main())
