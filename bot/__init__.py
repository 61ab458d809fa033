"""The conversation: answers, Discord and the console. Builds on `index`."""
