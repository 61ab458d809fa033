"""One cog per module, each loaded by `NewsBot.setup_hook` through its `async def setup(bot)`."""
