"""Pushing to browsers: the hub (bounded queue and one writer per connection), the
screen pop (a pure composer and the watcher that sends it) and the supervisor's live
view. Model: Home Assistant's websocket_api."""
