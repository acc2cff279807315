"""``python -m station`` is the ``station`` command.

It lets a process start the app with the very interpreter it runs on
(``sys.executable -m station …``) — ``station serve-web`` does this for each browser tab —
without depending on the ``station`` script being on ``PATH``.
"""

from station.entry import main

if __name__ == "__main__":
    main()
