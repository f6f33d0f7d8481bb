from hpsearch._entry import main

main()
