from benchmarks.run.main import main

main()
