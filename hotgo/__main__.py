from hotgo.cli import main

raise SystemExit(main())
