import asyncio

from services.ingest.server import main

if __name__ == "__main__":
    asyncio.run(main())
