"""The home page: each user's figures for their scope, the icon and the health check."""
