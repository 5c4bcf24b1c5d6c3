from vbr.cli import main

main()
