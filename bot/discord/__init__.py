"""The Discord side: `app` (the Bot), `checks`, `views`, `replies`, `options`, and one cog per module in `cogs/`."""
