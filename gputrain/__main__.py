from gputrain.cli import main

main()
