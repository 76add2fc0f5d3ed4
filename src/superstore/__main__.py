from superstore.cli import main

main()
